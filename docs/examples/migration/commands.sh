# One scenario with the services of the compose file (run where docker-compose.yml is):
envctl compose import docker-compose.yml --name shop_legacy -o scenarios/integration/scenario_shop_legacy.yaml
envctl validate
