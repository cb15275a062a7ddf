# Write the scenario as a compose file (and check it with `docker compose config`):
envctl compose export --scenario shop -o shop.compose.yaml
# Start it: services come up in the scenario's order; --wait returns when all are healthy.
docker compose -f shop.compose.yaml up -d --wait
# envctl sees the containers by their labels:
envctl status
# Remove them:
docker compose -f shop.compose.yaml down
