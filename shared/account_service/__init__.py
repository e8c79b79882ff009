"""The account service: what the account API (``producers/account_api``) and the CLI
(``contact-sync accounts|preview|status|sync-now|rejected``) do to accounts, one
implementation behind two front ends. Modules by concern: :mod:`.settings`,
:mod:`.connection`, :mod:`.preview`, :mod:`.syncs`, :mod:`.rejections`; refusals are the
:mod:`.errors` (each knows its HTTP status), answers the :mod:`.models`.
"""
