"""Records in Redis that belong to no single account's keys: the scheduler's indexes."""
