import redis

from shared import constants as keys
from shared.identity import IdentityMap


def test_identities_are_kept_per_account_by_contact_and_by_email(r: redis.Redis) -> None:
    acme = IdentityMap(r, "acme")
    acme.learn(contacts={"C1": "P1", "C2": "P1"}, emails={"ann@example.com": "P1"})
    assert acme.profiles_of_contacts(["C1", "C2", "C3"]) == {"C1": "P1", "C2": "P1"}
    assert acme.profiles_of_emails(["ann@example.com"]) == {"ann@example.com": "P1"}
    assert IdentityMap(r, "other").profiles_of_contacts(["C1"]) == {}
    assert r.hget(keys.identity_by_email("acme"), "ann@example.com") == "P1"


def test_an_old_email_is_forgotten_when_the_profile_moves_to_a_new_one(r: redis.Redis) -> None:
    acme = IdentityMap(r, "acme")
    acme.learn(emails={"old@example.com": "P1"})
    acme.learn(emails={"new@example.com": "P1"}, forget_emails=["old@example.com"])
    assert acme.profiles_of_emails(["old@example.com", "new@example.com"]) == {
        "new@example.com": "P1"}
