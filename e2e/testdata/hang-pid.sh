#!/bin/sh
# hang-pid.sh FIFO: a token source that tells its process id through FIFO,
# then never answers.
echo $$ > "$1"
exec sleep 1000
