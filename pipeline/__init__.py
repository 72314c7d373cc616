"""Real-time rating pipeline for VoIP operators that sell through resellers."""
