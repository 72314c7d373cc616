"""Kafka, as every part of the product uses it: the topic names and their layout (topics), creating
and checking them (admin), the one client factory (clients; librdkafka's adapter in rdkafka),
whole-topic reads and bulk writes (topic_io), and the one reader that rebuilds state from topics and
then follows them (follower)."""
