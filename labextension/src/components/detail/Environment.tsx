import * as React from 'react';

import { IEnvironmentInfo } from '../../tokens';
import { KeyValueTable, Section } from './Section';

/** The run's Python, platform and host, and its packages (searchable). */
export function EnvironmentSection(props: {
  environment: IEnvironmentInfo;
}): JSX.Element {
  const { environment } = props;
  const [pkgFilter, setPkgFilter] = React.useState('');
  const packages = environment.packages ?? {};
  const pkgNames = Object.keys(packages)
    .filter(
      p => !pkgFilter || p.toLowerCase().includes(pkgFilter.toLowerCase())
    )
    .sort();
  return (
    <Section title="Environment" className="jp-mlops-environment" open={false}>
      <KeyValueTable
        data={{
          python: environment.python,
          platform: environment.platform,
          host: environment.host,
          user: environment.user,
          pid: environment.pid
        }}
      />
      <details className="jp-mlops-packages">
        <summary>Packages ({Object.keys(packages).length})</summary>
        <input
          className="jp-mlops-input"
          placeholder="Find a package…"
          value={pkgFilter}
          onChange={ev => setPkgFilter(ev.target.value)}
        />
        <table className="jp-mlops-kv">
          <tbody>
            {pkgNames.slice(0, 500).map(p => (
              <tr key={p}>
                <th scope="row">{p}</th>
                <td>{packages[p]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </Section>
  );
}
