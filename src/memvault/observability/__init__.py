"""What an operator watches: Prometheus metrics (``metrics``) and structured logs with request
ids (``logs``). Both are leaves: any layer may record into them, they import nothing of
memvault's."""
