"""The PostgreSQL backend (asyncpg): named only by ``bot.runtime.backend``."""
