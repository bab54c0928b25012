import { GraphQLError, Kind } from 'graphql';
import { builder } from '../builder.js';

builder.scalarType('DateTime', {
  description: 'An instant in time, as an ISO 8601 string in UTC (e.g. 2026-11-28T17:00:00.000Z).',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string');
    return date;
  },
  parseLiteral: (ast) => {
    const date = ast.kind === Kind.STRING ? new Date(ast.value) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string');
    return date;
  },
});

const decimalPattern = /^-?\d{1,18}(\.\d{1,6})?$/;

builder.scalarType('Decimal', {
  description: 'An exact decimal number as a string (e.g. "199.99"), never a float.',
  serialize: (value) => String(value),
  parseValue: (value) => {
    if (typeof value !== 'string' || !decimalPattern.test(value)) {
      throw new GraphQLError('Decimal must be a string such as "199.99"');
    }
    return value;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING || !decimalPattern.test(ast.value)) {
      throw new GraphQLError('Decimal must be a string such as "199.99"');
    }
    return ast.value;
  },
});
