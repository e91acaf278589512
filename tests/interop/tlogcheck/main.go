// Command tlogcheck verifies a Carbon Ledger park's log as an outside party would, with Go's
// golang.org/x/mod/sumdb/note (signed notes) and golang.org/x/mod/sumdb/tlog (tiles and proofs),
// used only by the interoperability tests.
//
//	tlogcheck verify BASE_URL LOG_VKEY OLD_SIZE [WITNESS_VKEY ...]   (env AUTH: bearer token)
//	tlogcheck sign KEY_NAME < checkpoint-text                         (prints vkey, then the note)
//
// verify: opens GET /checkpoint with the log's vkey, checks each witness's tlog-cosignature/v1
// with crypto/ed25519 over the specified message, reads the tree through tlog.TileHashReader
// over GET /tile/... (the tiles are checked against the checkpoint's root), proves and checks
// every leaf of the first entry bundle and a consistency proof from the checkpoint of OLD_SIZE,
// and prints that proof (base64, one per line) after "consistency".
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlogcheck: "+format+"\n", args...)
	os.Exit(1)
}

func get(url string) []byte {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		fail("%v", err)
	}
	if auth := os.Getenv("AUTH"); auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("%v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		fail("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return body
}

type checkpoint struct {
	origin string
	tree   tlog.Tree
}

func openCheckpoint(data []byte, verifier note.Verifier) (checkpoint, *note.Note) {
	n, err := note.Open(data, note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint does not verify: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		fail("checkpoint text is not three lines: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("tree size: %v", err)
	}
	hash, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("root: %v", err)
	}
	return checkpoint{lines[0], tlog.Tree{N: size, Hash: hash}}, n
}

// checkCosignature verifies a tlog-cosignature/v1 line of the witness whose vkey is given.
func checkCosignature(n *note.Note, vkey string) {
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		fail("witness vkey %q is not a cosignature/v1 key", vkey)
	}
	public := ed25519.PublicKey(raw[1:])
	id := sha256.Sum256(append([]byte(parts[0]+"\n\x04"), public...))
	for _, sig := range n.UnverifiedSigs {
		if sig.Name != parts[0] || sig.Hash != binary.BigEndian.Uint32(id[:4]) {
			continue
		}
		blob, _ := base64.StdEncoding.DecodeString(sig.Base64)
		if len(blob) != 4+8+64 {
			fail("cosignature of %s has %d bytes", parts[0], len(blob))
		}
		timestamp := binary.BigEndian.Uint64(blob[4:12])
		message := fmt.Sprintf("cosignature/v1\ntime %d\n%s", timestamp, n.Text)
		if !ed25519.Verify(public, []byte(message), blob[12:]) {
			fail("cosignature of %s does not verify", parts[0])
		}
		fmt.Printf("cosigned %s %d\n", parts[0], timestamp)
		return
	}
	fail("no cosignature by %s", parts[0])
}

// tiles reads C2SP tlog-tiles: Go's sumdb paths carry the tile height ("tile/8/0/000"), the C2SP
// ones do not ("tile/0/000"); the height is fixed at 8.
type tiles struct{ base string }

func (t tiles) Height() int { return 8 }

func (t tiles) ReadTiles(list []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(list))
	for i, tile := range list {
		out[i] = get(t.base + "/tile/" + strings.TrimPrefix(tile.Path(), "tile/8/"))
	}
	return out, nil
}

func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func entries(bundle []byte) [][]byte {
	var out [][]byte
	for len(bundle) > 0 {
		if len(bundle) < 2 {
			fail("entry bundle ends inside a length")
		}
		n := int(binary.BigEndian.Uint16(bundle))
		if len(bundle) < 2+n {
			fail("entry bundle ends inside an entry")
		}
		out = append(out, bundle[2:2+n])
		bundle = bundle[2+n:]
	}
	return out
}

func verify(base, vkey string, oldSize int64, witnesses []string) {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("log vkey: %v", err)
	}
	latest, n := openCheckpoint(get(base+"/checkpoint"), verifier)
	fmt.Printf("checkpoint %s %d %s\n", latest.origin, latest.tree.N, latest.tree.Hash)
	for _, w := range witnesses {
		checkCosignature(n, w)
	}
	reader := tlog.TileHashReader(latest.tree, tiles{base})
	// Every leaf of the first entry bundle, proven against the checkpoint's root.
	width := latest.tree.N
	path := "000"
	if width >= 256 {
		width = 256
	} else {
		path = fmt.Sprintf("000.p/%d", width)
	}
	records := entries(get(base + "/tile/entries/" + path))
	if int64(len(records)) != width {
		fail("entry bundle has %d entries, expected %d", len(records), width)
	}
	for i, record := range records {
		proof, err := tlog.ProveRecord(latest.tree.N, int64(i), reader)
		if err != nil {
			fail("prove record %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, latest.tree.N, latest.tree.Hash, int64(i), tlog.RecordHash(record)); err != nil {
			fail("record %d: %v", i, err)
		}
	}
	fmt.Printf("records %d\n", len(records))
	older, _ := openCheckpoint(get(fmt.Sprintf("%s/audit/v1/checkpoints/%d/note", base, oldSize)), verifier)
	proof, err := tlog.ProveTree(latest.tree.N, older.tree.N, reader)
	if err != nil {
		fail("prove tree: %v", err)
	}
	if err := tlog.CheckTree(proof, latest.tree.N, latest.tree.Hash, older.tree.N, older.tree.Hash); err != nil {
		fail("consistency %d -> %d: %v", older.tree.N, latest.tree.N, err)
	}
	fmt.Println("consistency")
	for _, h := range proof {
		fmt.Println(base64.StdEncoding.EncodeToString(h[:]))
	}
}

func sign(name string) {
	skey, vkey, err := note.GenerateKey(rand.New(rand.NewSource(16)), name)
	if err != nil {
		fail("%v", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		fail("%v", err)
	}
	text, _ := io.ReadAll(os.Stdin)
	msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		fail("%v", err)
	}
	fmt.Println(vkey)
	os.Stdout.Write(msg)
}

func main() {
	if len(os.Args) >= 5 && os.Args[1] == "verify" {
		old, err := strconv.ParseInt(os.Args[4], 10, 64)
		if err != nil {
			fail("OLD_SIZE: %v", err)
		}
		verify(strings.TrimRight(os.Args[2], "/"), os.Args[3], old, os.Args[5:])
		return
	}
	if len(os.Args) == 3 && os.Args[1] == "sign" {
		sign(os.Args[2])
		return
	}
	fail("usage: tlogcheck verify BASE_URL LOG_VKEY OLD_SIZE [WITNESS_VKEY ...] | sign KEY_NAME")
}
