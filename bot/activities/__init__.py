"""Timed class activities: the data (store), the reminder/closing scheduler, the CSV export,
and the messages the class sees. The /activity command (bot/commands/activity.py) ties them
together."""
