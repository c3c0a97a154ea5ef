"""Storage shared by every layer: local paths, S3 (s3fs) and other URIs (fileio.py)."""
