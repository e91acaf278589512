-- wrk script for the single-activity POST benchmark (bench/bench_ingest.py writes tokens.lua).
-- Every request is a distinct trip of one of many employees (3 hours apart), under its own
-- idempotency key; wrk's threads interleave their numbers so no two requests are the same.
-- Arguments: <first request number> <run label>.

local tokens = dofile(os.getenv("BENCH_TOKENS"))
local base = tonumber(os.getenv("BENCH_BASE_EPOCH"))
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  first = tonumber(args[1])
  label = args[2]
  stride = tonumber(args[3])
  sent = 0
  not_created = 0
end

function request()
  local i = first + sent * stride + id
  sent = sent + 1
  local employee = i % #tokens
  local trip = math.floor(i / #tokens)
  local when = os.date("!%Y-%m-%dT%H:%M:%S+00:00", base - trip * 10800)
  local body = string.format(
    '{"type":"metro","occurred_at":"%s","distance_km":%.1f}', when, 1 + (i % 300) / 10)
  local headers = {
    ["Authorization"] = "Bearer " .. tokens[employee + 1],
    ["Idempotency-Key"] = string.format("bench-%s-%09d", label, i),
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/mp/v1/activities", headers, body)
end

function response(status, headers, body)
  if status ~= 201 then
    not_created = not_created + 1
  end
end

function done(summary, latency, requests)
  local sent_total, not_created_total = 0, 0
  for _, thread in ipairs(threads) do
    sent_total = sent_total + thread:get("sent")
    not_created_total = not_created_total + thread:get("not_created")
  end
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,' ..
    '"not_201":%d,"sent":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), not_created_total, sent_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
