"""Activity: orders and behaviour events, and the consumer of their DynamoDB stream."""
