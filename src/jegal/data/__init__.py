"""Data contracts: words, transcripts, keypoint layout, audio features, clips and shards."""
