"""Seed data: reading seed files and checking their records, before any client is involved.

Pure code: files in, validated records out, every problem reported as
``FILE:LINE: why`` (:class:`~envctl.errors.SeedError`). The service plugins load the
records into Kafka, PostgreSQL and Redis.
"""
