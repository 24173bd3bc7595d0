"""The local Iglu Server: Iglu Server 0.14's REST API over SQLite in ``$MINI_HOME/iglu/``."""
