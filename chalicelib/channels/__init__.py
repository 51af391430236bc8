"""Channels: one interface (base.Channel) and the wallet, inbox, SMS, e-mail, webhook and staff-task adapters."""
