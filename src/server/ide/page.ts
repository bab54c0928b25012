/** A tab GraphiQL opens with; the leading comment says what the example is for. */
export interface ExampleTab {
  query: string;
  variables?: string;
}

/** The config the bootstrap script reads from the page's JSON blob. */
export interface IdePageConfig {
  endpoint: string;
  tabs: ExampleTab[];
  /** The headers editor's JSON text, or null for an empty editor. */
  headers: string | null;
}

/** The first tab is the active one. */
export const exampleTabs: ExampleTab[] = [
  {
    query: `# Listings feed, newest first (next page: $after = endCursor)
query Feed($first: Int = 10, $after: String) {
  listings(first: $first, after: $after) {
    edges {
      cursor
      node {
        id
        title
        price
        currency
        category {
          name
        }
        seller {
          handle
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
`,
  },
  {
    query: `# Me: the signed-in person (null without an Authorization header).
query Me {
  me {
    handle
    displayName
    role
    interests {
      affinity
      interest {
        name
      }
    }
  }
}
`,
  },
  {
    query: `# Ops: schema migrations (admin): needs an admin token.
query SchemaMigrations {
  schemaMigrations {
    applied
    pending
  }
}
`,
  },
];

/**
 * JSON that is safe inside <script type="application/json">: `<` can never close the element or
 * open a comment, and U+2028/2029 are escaped for the benefit of older JavaScript parsers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function ideConfig(options: {
  graphqlPath: string;
  headers?: Record<string, string> | undefined;
}): IdePageConfig {
  const headers = options.headers && Object.keys(options.headers).length > 0 ? options.headers : undefined;
  return {
    endpoint: options.graphqlPath,
    tabs: exampleTabs,
    headers: headers ? JSON.stringify(headers, null, 2) : null,
  };
}

/** The IDE page; `asset` maps an allow-listed asset name to its URL. */
export function renderIdePage(config: IdePageConfig, asset: (name: string) => string): string {
  const script = (name: string) => `<script src="${escapeAttribute(asset(name))}" defer></script>`;
  const style = (name: string) => `<link rel="stylesheet" href="${escapeAttribute(asset(name))}">`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Lodestar GraphQL IDE</title>
${style('graphiql.min.css')}
${style('ide.css')}
${script('react.production.min.js')}
${script('react-dom.production.min.js')}
${script('graphiql.min.js')}
${script('ide.js')}
<script type="application/json" id="graphiql-config">${jsonForScript(config)}</script>
</head>
<body>
<div id="graphiql"><noscript>The GraphQL IDE needs JavaScript.</noscript></div>
</body>
</html>
`;
}
