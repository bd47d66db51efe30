"""billing — who pays, and what they pay for (Stripe's object model)."""
