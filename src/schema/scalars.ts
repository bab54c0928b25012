import { GraphQLError, Kind } from 'graphql';
import { builder } from '../builder.js';
import { parseInstant } from './dateTime.js';

const dateTimeError = () =>
  new GraphQLError(
    'DateTime must be an ISO 8601 date and time with a zone, e.g. 2026-11-28T17:00:00Z (years 0001–9999)',
  );

builder.scalarType('DateTime', {
  description:
    'An instant in time. Returned as an ISO 8601 string in UTC (2026-11-28T17:00:00.000Z); accepted as an ' +
    'RFC 3339 date and time with a zone, Z or an offset (2026-11-28T18:00:00+01:00), years 0001–9999. ' +
    'A date without a time or zone, or a day its month does not have, is refused.',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? parseInstant(value) : null;
    if (date === null) throw dateTimeError();
    return date;
  },
  parseLiteral: (ast) => {
    const date = ast.kind === Kind.STRING ? parseInstant(ast.value) : null;
    if (date === null) throw dateTimeError();
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
