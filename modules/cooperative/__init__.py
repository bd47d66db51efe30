"""cooperative — what value each member contributed (patronage)."""
