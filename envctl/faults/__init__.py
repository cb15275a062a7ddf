"""Fault injection: declarative fault timelines in scenarios, always reverted.

- :mod:`~envctl.faults.models`: the ``faults:`` entries and ``fault`` step bodies;
- :mod:`~envctl.faults.plan`: their validation (file:line, did-you-mean);
- :mod:`~envctl.faults.inject`: apply / revert per kind, through the runtime seam;
- :mod:`~envctl.faults.timeline`: when each fault starts and ends during the steps;
- :mod:`~envctl.faults.journal`: the on-disk record that lets gc/down revert after SIGKILL;
- :mod:`~envctl.faults.proxy` / :mod:`~envctl.faults.proxies`: the TCP fault proxy for
  latency, loss, bandwidth, reset, timeout and host partitions.

See docs/faults.md.
"""
