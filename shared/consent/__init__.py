"""Consent both ways: what Klaviyo says of a person's consent (:mod:`.klaviyo_state`) and
what the sync last knew of it per contact (:mod:`.ledger`). See docs/REVERSE_SYNC.md."""
