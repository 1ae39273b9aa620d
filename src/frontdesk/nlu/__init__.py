"""Understanding: intents, entities, urgency, trained from the operator's examples."""
