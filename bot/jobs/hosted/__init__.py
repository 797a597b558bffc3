"""Jobs on a hosted backend (bot/inference/hosted/): the engine's link that runs batches as
asyncio tasks in the bot (link.py), and how each job kind runs there (runners.py)."""
