"""Reinforcement learning without Lightning: the policy's forward on rollout batches, rewards,
experience (advantages, KL, filters, shaping), the PPO update step and its diagnostics.

Plain objects and tensor functions, so each can be pinned by hand-computed values and driven by
a test with a plain optimizer; ``lightning_modules/ppo.py`` wires them into a Lightning module.
"""
