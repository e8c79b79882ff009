"""Records in Redis that belong to no single account: the scheduler's due indexes and
the processes' heartbeats."""
