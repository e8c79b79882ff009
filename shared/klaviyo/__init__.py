"""Klaviyo access for contact-sync: the SDK client, a shared rate limiter, one gateway
through which every call goes, and one exception hierarchy (:mod:`shared.klaviyo.errors`).
General on purpose: the push actors and the reverse sync both use it."""
