"""Operations: metrics, health probes, structured logs, backup and restore."""
