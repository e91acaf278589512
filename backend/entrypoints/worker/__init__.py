"""Background jobs (the scheduler), started in the API process by its lifespan."""
