"""Recording an activity: one use case composes the record, its points and its leaf (with
group commit); screening, reviews and corrections."""
