envctl profile list --scenario orders
envctl profile show staging --scenario orders
envctl profile show ci,keep --scenario orders
