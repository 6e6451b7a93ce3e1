"""S3-to-text OCR with Aspose.OCR: configuration, engine, storage and the per-object pipeline."""
