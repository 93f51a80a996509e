"""The ingest API routes (main.build_app includes them)."""
