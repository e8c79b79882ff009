"""CRM -> sync, after the producers: the collector keeps the newest state of each contact
and marks it pending for the account's next batch."""
