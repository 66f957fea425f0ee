"""Reinforcement learning for the PPO module: advantages, KL, losses, rewards, rollout batches.

Plain tensor functions with no Lightning in them, so each can be pinned by hand-computed values.
"""
