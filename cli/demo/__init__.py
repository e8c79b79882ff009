"""``contact-sync demo``: a generated CRM feed through every real process, checked in Klaviyo.

- :mod:`cli.demo.feed` -- the CRM's contacts and events (two waves), deterministic by seed;
- :mod:`cli.demo.expectations` -- what Klaviyo must hold, computed from the feed alone;
- :mod:`cli.demo.klaviyo_state` -- what Klaviyo holds, read back through the official SDK;
- :mod:`cli.demo.report` -- expected against actual, row by row, and the final table;
- :mod:`cli.demo.driver` -- the run: prepare the sandbox, send the waves, wait, check;
- :mod:`cli.demo.wave3` -- people unsubscribe and bounce in Klaviyo, and the CRM hears it
  (:mod:`cli.demo.crm_inbox`: the demo's CRM end of the deliveries).
"""
