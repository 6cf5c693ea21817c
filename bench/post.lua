-- wrk: POST a chat completion; the model and stream flag come from the environment.
local model = os.getenv("BENCH_MODEL") or "gpt-bench"
local stream = os.getenv("BENCH_STREAM") == "1"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "sk-gw-bench-key-0123456789")
wrk.body = '{"model":"' .. model .. '","stream":' .. tostring(stream) ..
  ',"messages":[{"role":"user","content":"Say hello to the benchmark."}]}'
