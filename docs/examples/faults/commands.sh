# An environment with Redis behind a fault proxy, left up
envctl up --scenario faults_redis_latency --fault-proxy redis
# 300ms more on every answer for 10 seconds (Ctrl-C ends it early)
envctl fault latency --run-id RUN_ID --service redis --delay 300ms --duration 10s
# Freeze Redis until told otherwise, then thaw it
envctl fault pause --run-id RUN_ID --service redis
envctl fault revert --run-id RUN_ID
# Cut Redis off from the other services (the tests still reach it)
envctl fault partition --run-id RUN_ID --service redis --from network --duration 5s
envctl down --run-id RUN_ID
