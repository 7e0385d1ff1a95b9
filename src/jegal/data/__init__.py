"""Data contracts: words, transcripts, keypoint layout, audio features, clips, shards and benchmark CSVs."""
