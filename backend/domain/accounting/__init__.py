"""Carbon accounting: the activity types and their calculators, emission factors and units,
rounding to integer grams, Scope 3 figures and the disclosure rule."""
