// Package compose holds sluice's container deployment (docker-compose.yml, the Dockerfile of
// the sluice image, the NATS cluster's configuration) and the test that checks it without a
// container engine: the compose file loads with the Compose specification's own loader, it has
// a 3-node NATS JetStream cluster whose nodes route to each other, MinIO, two gateways, a
// scaler, the adapters and three workers, and every sluice role reaches all three NATS nodes
// with --replicas 3.
package compose
