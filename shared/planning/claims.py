"""What one slice of a streamed plan tells the slices after it (workers/push/plan/stream.py):
who took a shared email, and who joins that row later."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    """What became of a normalised email in an earlier slice of the batch: the contact that
    took it (the newest of the email, as members are read newest first) and its outcome,
    ``row`` (sent), ``unchanged`` (with the fingerprint) or ``unencodable``."""

    contact_id: str
    state: str
    fingerprint: str = ""

    def encode(self) -> str:
        return f"{self.contact_id}\t{self.state}\t{self.fingerprint}"

    @classmethod
    def decode(cls, text: str) -> Claim:
        contact_id, state, fingerprint = text.split("\t")
        return cls(contact_id, state, fingerprint)


@dataclass(frozen=True)
class Join:
    """A member whose email a contact of an earlier slice claimed: it joins that row."""

    contact_id: str
    email: str
    occurred_at: float
    first_time: bool
    owed: bool
    sent_unsubscribed: bool
