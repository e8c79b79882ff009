"""The push side of consent: the ledger of contacts sent, the CRM's consent as historical
subscribes guarded by newest-wins (docs/REVERSE_SYNC.md, docs/KLAVIYO.md)."""
