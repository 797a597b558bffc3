"""Hosted backends: jobs run on Hugging Face Inference Providers or an OpenAI-compatible
server instead of local worker processes — from the bot process, over async HTTP, with no
torch import.

- backend.py: which backend the settings choose (`auto` included) and the client it needs;
- providers.py: the Hub's provider mapping (which provider serves a model for a task);
- guard.py: the model guard for hosted models (served for the task, not a size cap);
- faults.py: provider faults as plain replies (the token never in a reply or a log line);
- budget.py: the class's daily budget of hosted jobs.

The job engine's side (the link that runs batches as asyncio tasks, and how each job kind
runs hosted) is in bot/jobs/hosted/.
"""
