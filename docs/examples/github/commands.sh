# From the project folder (scenarios/ beside it):
envctl ci github --all -o envctl.yml
envctl ci github --scenario orders_db --scenario orders_app --strategy services -o services.yml
