"""Run `sam build` output the way AWS Lambda would, offline (see lambda_sandbox.py)."""
