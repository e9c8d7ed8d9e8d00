"""pySigma processing pipelines that put Windows rules onto the event logs that record them.

Each module holds one mapping table of the SigmaHQ taxonomy and builds, per table key, a small
`ProcessingPipeline` whose items are guarded by `LogsourceCondition`s:

- `windows_services`: ``service`` -> ``Channel`` condition;
- `windows_categories`: ``category`` -> Sysmon, PowerShell or Kernel-File ETW events;
- `security_audit`: ``category`` -> Security audit events (4688/4689) with field renaming.

`watchpost.rules.logsources` chooses the pipelines for a rule and applies them to copies.
"""
