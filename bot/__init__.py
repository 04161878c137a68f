"""stagger-bot: the job-stagger rollout runbook, run from Slack."""
