"""What holds requests back: rate limits and quotas, the queue and engine slots, the
login throttle."""
